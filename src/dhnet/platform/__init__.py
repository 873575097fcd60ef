"""The web platform: typed configuration, Django settings, URL map, the API object, base templates."""
