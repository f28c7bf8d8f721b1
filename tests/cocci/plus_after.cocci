@@
expression E;
@@
  start_op(E);
+ trace_op(E);
