@@
expression E;
identifier errp;
@@
- error_propagate(errp, E);
- return;
+ error_propagate(errp, E);
+ return false;
