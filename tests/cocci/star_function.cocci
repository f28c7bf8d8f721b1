@@
identifier fn;
@@
* fn(..., Error **errp)
  {
  ...
  }
