@@
type T = {int, long};
identifier x;
@@
- T x;
+ T x = 0;
