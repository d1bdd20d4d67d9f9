"""Languages, regions and time zones: which language a request speaks (`languages`), how dates, times,
numbers and money are written for it (`formatting`), what each country an install serves defaults to
(`portal.config.REGIONS`), the pseudo-locale that shows untranslated text (`pseudo`) and the catalogs' upkeep
(`catalogs`, run by `make translations`)."""
