@@
expression A, B;
@@
- A ? A : B
+ A ?: B
