def add_arguments(parser):
    pass
def command(args):
    return 0
