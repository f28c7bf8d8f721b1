@@
identifier alloc = {g_malloc, g_malloc0};
expression E;
@@
- alloc(E)
+ g_try_malloc(E)
