struct device { int id; };
struct bus { int id; };
void t(struct device *dev, struct bus *bus)
{
    free(dev);
    free(bus);
}
