@@
type T;
expression E;
@@
- (T *)g_malloc(E)
+ g_malloc(E)
