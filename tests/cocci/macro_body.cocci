// spatch matches inside #define bodies too: expression bodies, statement bodies (with a
// comment and line continuations), not bodies that are no code on their own or strings.
@@
expression n, d;
@@
(
- ((n) + d - 1) / (d)
+ DIV_ROUND_UP(n, d)
|
- (n + d - 1) / d
+ DIV_ROUND_UP(n, d)
)
