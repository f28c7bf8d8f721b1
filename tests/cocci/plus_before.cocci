@@
expression E;
@@
+ lock(E);
  touch(E);
