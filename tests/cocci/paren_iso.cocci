@@
expression e1, e2;
@@
- ((e1) + e2 - 1) / (e2)
+ DIV_UP(e1, e2)
