@@
expression E, F;
@@
(
- twice(E)
+ E * 2
|
- less(E, F)
+ E - F
|
- plus1(E)
+ E + 1
)
