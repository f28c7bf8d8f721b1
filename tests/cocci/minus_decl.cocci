@@
identifier x;
@@
- int x = 0;
  ... when != x
