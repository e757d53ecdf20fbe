"""One troposphere template builder per stack: `build(settings) -> Template`, no AWS calls."""
