/*
 * Drop a variable that only carries a value to the return.
 */
@@
identifier VAR;
expression E;
type T;
identifier F;
@@
 T F(...)
 {
     ...
-    T VAR;
     ... when != VAR
-    VAR =
+    return
     E;
-    return VAR;
     ... when != VAR
 }
