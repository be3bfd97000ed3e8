"""TensorShape: a tuple that also answers TensorFlow's shape methods."""


class TensorShape(tuple):
    """The shape of a tensor: a tuple of ints (``x.shape == (2, 3)``, ``x.shape[0]``)
    that also compares equal to a list and has TensorFlow's methods."""
    __slots__ = ()

    @property
    def rank(self) -> int:
        """The number of dimensions."""
        return len(self)

    @property
    def ndims(self) -> int:
        """The number of dimensions (TensorFlow's older name for `rank`)."""
        return len(self)

    def as_list(self) -> list[int]:
        """The dimensions as a list of ints."""
        return list(self)

    def num_elements(self) -> int:
        """The number of elements: the product of the dimensions (1 for a scalar)."""
        n = 1
        for d in self:
            n *= d
        return n

    def __eq__(self, other):
        if isinstance(other, list):
            other = tuple(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = tuple.__hash__

    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return TensorShape(item) if isinstance(key, slice) else item
