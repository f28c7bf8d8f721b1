@@
identifier fn;
@@
  fn(...)
  {
+     trace_enter();
      ...
      setup_hw();
      ...
  }
