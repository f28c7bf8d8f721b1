// The boolean isomorphisms in a transformation: `E == NULL` matches `!q` too; `E == 0` matches `0 == q->depth`.
@@
expression E, R;
@@
(
- if (E == NULL)
+ if (unlikely(!E))
  return R;
|
- if (E == 0)
+ if (!E)
  return R;
)
