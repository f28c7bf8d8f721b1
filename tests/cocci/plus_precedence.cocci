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
- deref(E)
+ E->val
|
- negate(E)
+ -E
)
