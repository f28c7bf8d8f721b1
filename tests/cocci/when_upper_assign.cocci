@@
expression E;
@@
  E = make();
  ... WHEN != E = NULL
- finish(E);
+ finish_fast(E);
