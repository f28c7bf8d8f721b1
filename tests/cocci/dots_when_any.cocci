@@
expression E;
@@
  start(E);
  ... when any
- stop(E);
+ halt(E);
