@@
identifier f !~ "^test_";
expression E;
@@
- f(E, -1)
+ f(E, ERR)
