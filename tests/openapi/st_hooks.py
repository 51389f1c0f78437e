"""schemathesis hooks (SCHEMATHESIS_HOOKS=st_hooks): how to send an audio/mpeg body."""
import schemathesis


@schemathesis.serializer("audio/mpeg")
def mp3(ctx, value):
    return value if isinstance(value, bytes) else str(value).encode()
