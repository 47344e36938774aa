def register():
    pass  # TODO(helper): fill in
