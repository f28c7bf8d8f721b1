// A removed declaration that shares its line with others loses just its declarator and one comma.
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
