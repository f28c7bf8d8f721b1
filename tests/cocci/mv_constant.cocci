@@
constant C;
@@
- set_level(C);
+ set_level_const(C);
