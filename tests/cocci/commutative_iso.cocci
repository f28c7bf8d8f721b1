@@
expression A, B;
@@
(
- mul(A * 2, B)
+ twice(A, B)
|
- add(A + 1, B)
+ inc(A, B)
)
