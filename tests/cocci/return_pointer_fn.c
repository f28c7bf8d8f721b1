void *map_ptr(Region *mr)
{
    void *ptr;
    long offset = 0;

    while (mr->alias) {
        offset += mr->alias_offset;
        mr = mr->alias;
    }
    ptr = block_ptr(mr->block, offset);
    return ptr;
}

char *name_of(int id)
{
    char *name;
    name = lookup(id);
    return name;
}
