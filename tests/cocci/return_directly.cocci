@@
identifier ret;
expression E;
@@
- ret = E;
- return ret;
+ return E;
