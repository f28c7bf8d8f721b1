@@
expression E;
@@
  E = alloc();
  ... when != use(E)
- release(E);
