@@
@@
- debug_trace(...);
