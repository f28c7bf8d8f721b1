@r@
expression E;
@@
E = g_malloc(...);

@@
expression r.E;
@@
- free(E);
+ g_free(E);
