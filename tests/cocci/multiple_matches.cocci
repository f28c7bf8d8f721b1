@@
expression E, F;
@@
- swap_args(E, F)
+ swap_args(F, E)
