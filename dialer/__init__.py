"""hotline.dialer"""
