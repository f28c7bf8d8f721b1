// `(e)` matches `(x)` when e is already bound to `(x)` (paren isomorphism).
@@
expression a, b;
@@
- ((a) + b - 1) / (b)
+ ROUND_UP_DIV(a, b)
