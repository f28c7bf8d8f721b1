@@
expression E;
@@
- E = \( g_malloc \| g_malloc0 \)(sizeof(*E));
+ E = g_new0(typeof(*E), 1);
