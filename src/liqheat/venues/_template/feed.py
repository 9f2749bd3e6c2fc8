"""Template: replace with the venue's :class:`~liqheat.venues.spec.VenueSpec` named ``SPEC``."""

raise NotImplementedError(
    "venues/_template/feed.py is a template: copy the folder to venues/<name>/, define SPEC = VenueSpec(...) "
    "with typed Capabilities (see venues/okx/feed.py), and register it in venues/registry.py"
)
