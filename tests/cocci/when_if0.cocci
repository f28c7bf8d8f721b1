// `when != VAR` does not look into `#if 0` code (spatch does not parse it).
@@
identifier VAR, F;
type T;
@@
  T F(...)
  {
  ...
- T VAR;
  ... when != VAR
  }
