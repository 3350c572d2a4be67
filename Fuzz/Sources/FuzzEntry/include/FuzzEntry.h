// Intentionally empty: FuzzEntry exports only the `<Target>_main` entry points of entry.c.
