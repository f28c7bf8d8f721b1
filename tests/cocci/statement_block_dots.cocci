@@
expression E;
statement S;
@@
  if (E)
- {
  S
- }
