import streamlit as st

st.title("Insights")
st.info("This page is being built.")
