@@
expression E;
@@
  E = g_malloc(...);
+ if (!E) {
+     return -ENOMEM;
+ }
