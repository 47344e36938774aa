def connect():
    pass  # TODO(helper): fill in
