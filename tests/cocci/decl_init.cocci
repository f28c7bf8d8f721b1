@@
type T;
identifier x;
expression E;
@@
- T x = g_malloc0(E);
+ T x = g_try_malloc0(E);
