@@
type T;
@@
- g_malloc(sizeof(T))
+ g_new(T, 1)
