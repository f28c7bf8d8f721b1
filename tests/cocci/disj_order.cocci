@@
expression E;
@@
(
- check(E, 0)
+ check_zero(E)
|
- check(E, ...)
+ check_any(E)
)
