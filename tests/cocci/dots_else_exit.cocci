// `...` paths: a `then` branch that returns is an early exit, an `else` that returns is not
// (pick_width does not match; spatch's semantics).
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
