// `- T x;` removes every declarator it matches; a declaration losing all of them goes.
@@
type T = {int, long *};
identifier x;
@@
- T x;
