@@
expression a, b;
@@
-muldiv(a, 1, b)
+a / b
