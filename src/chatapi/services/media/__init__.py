"""Media: accepting uploads, deciding what they are, who may see them, attaching and cleanup.

`sniff` decides a file's type from its bytes; `images` re-encodes images and makes
thumbnails; `files` turns uploads into rows and answers downloads; `attachments` links
uploads to messages; `cleanup` deletes what was never attached. Signed media links are
`chatapi.media_urls`.
"""
