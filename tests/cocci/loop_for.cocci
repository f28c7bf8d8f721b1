@@
identifier i;
expression N;
@@
- for (i = 0; i < N; i++) {
+ for (i = 0; i < N; ++i) {
  ...
  }
