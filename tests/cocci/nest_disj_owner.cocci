@@
typedef Device;
typedef Object;
identifier init_fn, dev, obj;
expression E1, E2, E3;
@@
static void init_fn(Device *dev, ...)
{
  ...
  Object *obj = OBJECT(dev);
  <+...
(
- region_init(E1, NULL, E2);
+ region_init(E1, obj, E2);
|
- region_init_io(E1, NULL, E2, E3);
+ region_init_io(E1, obj, E2, E3);
)
  ...+>
}
